"""The ``tf.data`` input pipeline: decode each image once, cache resized tensors per input size, shuffle, prefetch.

Decoded, resized images are cached in memory as uint8 (3 bytes a pixel) in one
cached ``tf.data.Dataset`` per (input size, image list), shared by every model
trained in the same process: the five 32x32 LeNet variants decode the images
once between them. Scaling to [0, 1] happens after the cache, per batch.
TensorFlow is imported inside the functions.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from promotion_cnn.datasets.image_folder import read_image_rgb

_DECODED: dict[tuple, Any] = {}


def decoded_images(paths: list[str], labels: list[int], image_size: int) -> Any:
    """Unbatched dataset of ``(uint8 image, label)``: decoded and resized on the first pass, cached after."""
    import tensorflow as tf

    key = (image_size, tuple(paths), tuple(labels))
    if key not in _DECODED:

        def decode(path: Any) -> np.ndarray:
            return read_image_rgb(path.decode(), image_size)

        def load(path: Any, label: Any) -> tuple[Any, Any]:
            image = tf.numpy_function(decode, [path], tf.uint8, stateful=False)
            image.set_shape((image_size, image_size, 3))
            return image, label

        dataset = tf.data.Dataset.from_tensor_slices((list(paths), np.asarray(labels, dtype=np.int32)))
        _DECODED[key] = dataset.map(load, num_parallel_calls=tf.data.AUTOTUNE).cache()
    return _DECODED[key]


def clear_decoded_cache() -> None:
    """Forget every cached decoded image set (frees their memory)."""
    _DECODED.clear()


def make_dataset(
    paths: list[str],
    labels: list[int],
    image_size: int,
    batch_size: int,
    shuffle_seed: int | None = None,
    shuffle_buffer: int = 2048,
) -> Any:
    """Batches of float images in [0, 1]; shuffled with ``shuffle_seed`` (reshuffled each epoch) unless it is None.

    For shuffled sets the image order is permuted with the seed before caching, so a
    buffer smaller than the set still mixes classes that the folder lists in blocks.
    """
    import tensorflow as tf

    if shuffle_seed is not None:
        order = np.random.default_rng(shuffle_seed).permutation(len(paths))
        paths, labels = [paths[i] for i in order], [labels[i] for i in order]
    dataset = decoded_images(paths, labels, image_size)
    if shuffle_seed is not None:
        dataset = dataset.shuffle(min(shuffle_buffer, len(paths)), seed=shuffle_seed, reshuffle_each_iteration=True)
    return (
        dataset.batch(batch_size)
        .map(lambda x, y: (tf.cast(x, tf.float32) / 255.0, y), num_parallel_calls=tf.data.AUTOTUNE)
        .prefetch(tf.data.AUTOTUNE)
    )

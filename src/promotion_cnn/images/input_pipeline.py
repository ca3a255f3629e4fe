"""The ``tf.data`` input pipeline: decode each image once, cache resized tensors, augment on the fly, prefetch.

Images are read through the ``ImageSet`` their dataset loaded (``promotion_cnn.datasets``):
its ``read`` decodes, its ``cache`` keeps one cached ``tf.data.Dataset`` of uint8 images
(3 bytes a pixel) per (input size, image list), shared by every model of the run that
reads the same dataset (the five 32x32 LeNet variants decode the images once between
them) and bounded by the dataset's ``decode_cache_mb``: the least recently used sets go
first, a set larger than the bound is decoded again on each pass instead. Batches hold
raw pixel values (0-255, float32): the models scale them themselves. TensorFlow is
imported inside the functions.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from promotion_cnn.datasets.image_folder import ImageSet

logger = logging.getLogger(__name__)


def decoded_images(images: ImageSet, paths: list[str], labels: list[int], image_size: int) -> Any:
    """Unbatched dataset of ``(uint8 image, label)``: decoded and resized on the first pass, cached after if the
    image set's cache can hold it."""
    import tensorflow as tf

    key = (image_size, tuple(paths), tuple(labels))
    cache = images.cache
    if cache is not None and key in cache:
        return cache[key][1]

    def decode(path: Any) -> np.ndarray:
        return images.read(path.decode(), image_size)

    def load(path: Any, label: Any) -> tuple[Any, Any]:
        image = tf.numpy_function(decode, [path], tf.uint8, stateful=False)
        image.set_shape((image_size, image_size, 3))
        return image, label

    dataset = tf.data.Dataset.from_tensor_slices((list(paths), np.asarray(labels, dtype=np.int32)))
    dataset = dataset.map(load, num_parallel_calls=tf.data.AUTOTUNE)
    size = len(paths) * image_size * image_size * 3
    if cache is None:
        return dataset
    if size > cache.maxsize:
        logger.info(
            "%d images at %dpx (%.0f MB) exceed the decode cache (%.0f MB): decoded again on every pass",
            len(paths),
            image_size,
            size / 2**20,
            cache.maxsize / 2**20,
        )
        return dataset
    dataset = dataset.cache()
    cache[key] = (size, dataset)  # drops the least recently used sets until the bound holds
    return dataset


def augment(image: Any, seed: Any, image_size: int, augmentation: dict[str, Any]) -> Any:
    """One training image, randomly cropped and resized (``random_resized_crop``) and/or mirrored
    (``horizontal_flip``), drawn from the per-image ``seed`` (stateless ops: reproducible under parallel map)."""
    import tensorflow as tf

    crop = augmentation.get("random_resized_crop")
    if crop:
        box_begin, box_size, _ = tf.image.stateless_sample_distorted_bounding_box(
            tf.shape(image),
            tf.zeros((1, 0, 4)),
            seed=seed,
            min_object_covered=0.0,
            area_range=crop.get("scale", (0.35, 1.0)),
            aspect_ratio_range=crop.get("ratio", (0.75, 4 / 3)),
            max_attempts=10,
            use_image_if_no_bounding_boxes=True,
        )
        image = tf.slice(image, box_begin, box_size)
    image = tf.image.resize(image, (image_size, image_size))  # float32, values still in [0, 255]
    if augmentation.get("horizontal_flip"):
        image = tf.image.stateless_random_flip_left_right(image, seed=seed[::-1])
    return image


def make_dataset(
    images: ImageSet,
    paths: list[str],
    labels: list[int],
    image_size: int,
    batch_size: int,
    shuffle_seed: int | None = None,
    shuffle_buffer: int = 2048,
    augmentation: dict[str, Any] | None = None,
) -> Any:
    """Batches of float32 images of raw pixel values (0-255) of ``paths`` read from ``images``; shuffled with
    ``shuffle_seed`` (reshuffled each epoch) unless it is None.

    For shuffled sets the image order is permuted with the seed before caching, so a
    buffer smaller than the set still mixes classes that the folder lists in blocks.
    With ``augmentation`` (training only) each epoch sees new random crops and flips,
    cut from images cached at ``augmentation['source_size']`` (default: ``image_size``).
    """
    import tensorflow as tf

    if shuffle_seed is not None:
        order = np.random.default_rng(shuffle_seed).permutation(len(paths))
        paths, labels = [paths[i] for i in order], [labels[i] for i in order]
    augmentation = {k: v for k, v in (augmentation or {}).items() if v}
    source_size = augmentation.pop("source_size", None) or image_size
    dataset = decoded_images(images, paths, labels, source_size if augmentation else image_size)
    if shuffle_seed is not None:
        dataset = dataset.shuffle(min(shuffle_buffer, len(paths)), seed=shuffle_seed, reshuffle_each_iteration=True)
    if augmentation:
        seeds = tf.data.Dataset.random(seed=shuffle_seed, rerandomize_each_iteration=True).batch(2)
        dataset = tf.data.Dataset.zip(dataset, seeds).map(
            lambda item, seed: (augment(item[0], seed, image_size, augmentation), item[1]),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    return (
        dataset.batch(batch_size)
        .map(lambda x, y: (tf.cast(x, tf.float32), y), num_parallel_calls=tf.data.AUTOTUNE)
        .prefetch(tf.data.AUTOTUNE)
    )

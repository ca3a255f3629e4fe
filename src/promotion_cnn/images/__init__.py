"""Image code shared by several pipelines (never a pipeline itself).

- ``input_pipeline``: the ``tf.data`` input pipeline (``make_dataset``) that training (image_modelling) and
  prediction (image_prediction) feed their networks with.
"""

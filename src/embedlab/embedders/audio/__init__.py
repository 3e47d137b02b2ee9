"""Audio embedders: ``voice`` (resemblyzer's pretrained speaker encoder) and ``mfcc`` (the
classic baseline). Both take files, bytes or arrays; see :mod:`embedlab.media`."""

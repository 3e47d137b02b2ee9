"""Audio and image inputs: reading, decoding and checking them once for every media embedder.

``inputs`` says what an item is (a path, bytes, an array, or a text handed to the wrong model);
``audio`` and ``image`` decode to one sample rate and channel layout, or one colour mode;
``embedder`` is the base of the audio and image embedders; ``collection`` stores files in
collections; ``wire`` decodes the server's ``{"type": "audio", "data": BASE64}`` items.
"""

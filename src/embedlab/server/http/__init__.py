"""The server's HTTP layer: the FastAPI app, its routes, and error -> status in OpenAI's shape."""

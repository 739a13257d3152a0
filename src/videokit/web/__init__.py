"""The library as a service: a REST API with keys and rate limits, and a web UI, on FastAPI.

Everything here needs the ``web`` extra (``pip install 'videokit[web]'``). The parts:

* :mod:`~videokit.web.app`: :func:`~videokit.web.app.create_app`, the one place the application is put together;
* :mod:`~videokit.web.options`: the ``[Server]`` settings, read once into :class:`ServerOptions`;
* :mod:`~videokit.web.keys`: API keys (stored hashed), browser sessions and one-time sign-in links;
* :mod:`~videokit.web.auth`: who a request is (key, session cookie, anonymous), scopes, CSRF, which rate limit;
* :mod:`~videokit.web.signin`: the browser's sign-in pages;
* :mod:`~videokit.web.limits`: per-key rate limits shared by every server process;
* :mod:`~videokit.web.api_routes`, :mod:`~videokit.web.media`, :mod:`~videokit.web.jobs`: ``/api/v1``;
* :mod:`~videokit.web.errors`: the JSON error shape and its stable codes;
* :mod:`~videokit.web.server`: ``videokit serve`` (uvicorn), which never imports the application.

No module imports FastAPI at ``import videokit.web``.
"""

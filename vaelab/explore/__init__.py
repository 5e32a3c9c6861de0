"""`vaelab explore RUN`: an interactive page to look inside a trained model (needs the `explore`
extra: `pip install 'vaelab[explore]'`). The model-side answers live in session.py and
sequence_session.py, the web server in server.py, the page in static/."""

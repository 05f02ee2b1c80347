"""`python -m apps.serve run apps/streamlit_app.py [options]`: Streamlit's own command line, with
the cache warmer (`apps.warm`) started beside the server, so that the first visitor finds the app
warm. `pathwise app` runs this; plain `streamlit run` serves the same app, warming nothing.
What the warmer did (and how long it took) goes to the log, as Streamlit's own lines do."""

import logging

from streamlit.web.cli import main

from apps import warm

if __name__ == "__main__":
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    warm.log.addHandler(handler)
    warm.log.setLevel(logging.INFO)
    warm.start()  # it waits for the server's runtime before warming its caches
    main(prog_name="streamlit")  # the same command line as `python -m streamlit`

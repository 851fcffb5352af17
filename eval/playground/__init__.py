"""The playground: one episode at a time in the browser, and a browser of results folders.

    python -m eval.playground [--host 127.0.0.1] [--port 7860] [--results results] [--out results/runs/playground]

``make playground`` runs it.  :mod:`eval.playground.session` builds the env and the agent the way ``eval.run``
does (Hydra's compose with the overrides picked in the page) and iterates the one rollout loop
(:func:`eval.episodes.rollout`); :mod:`eval.playground.frames` draws what the agent pointed at;
:mod:`eval.playground.browse` reads results folders; :mod:`eval.playground.app` is the Gradio page.
Only the page needs Gradio (the ``playground`` extra).
"""

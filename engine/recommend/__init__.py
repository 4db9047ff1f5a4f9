"""Recommenders behind one interface (:class:`~engine.recommend.base.RecommenderModel`): baselines,
collaborative models over ``implicit`` and EASE, a repeat-task blend, metrics and protocols.

Load any saved recommender with :func:`engine.recommend.registry.load_recommender`.
"""

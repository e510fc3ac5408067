"""Guardrails around every tutor message (see docs/guardrails.md):

* ``policy``: the YAML policy files, their validation and the hot-reloading ``PolicyStore``;
* ``pipeline``: ``check_input`` (length, injection, personal data, topic) and ``SAFETY_PREAMBLE``;
* ``output_filter``: ``OutputFilter``, the streaming check of model replies;
* ``confidence``: ``confidence_score`` of a finished reply;
* ``injection``, ``pii``, ``topics``: the individual detectors.

The package imports nothing itself so that ``python -m app.domain.tutor.guardrails.policy FILE`` (the
policy checker for editors) runs without warnings; import from the modules.
"""

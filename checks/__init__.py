"""Built-in check kinds. Each kind is a package (``checks.http``, ``checks.tls``, ...) that
exports its check class, or a module for a small kind (``checks.cpu``); what several kinds
use sits in ``checks.shared``. Every kind is registered through the ``watchkeeper.checks``
entry-point group exactly as a third-party check would be."""

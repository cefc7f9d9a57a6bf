"""Built-in check kinds. Each module holds one kind, registered through the
``watchkeeper.checks`` entry-point group exactly as a third-party check would be."""

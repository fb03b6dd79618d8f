"""Static files as whitenoise serves them in production: hashed names, compressed copies,
and the `import` lines of the JavaScript modules rewritten to the hashed names (each
page's feature script imports core.js)."""

from whitenoise.storage import CompressedManifestStaticFilesStorage


class ManifestStaticFiles(CompressedManifestStaticFilesStorage):
    support_js_module_import_aggregation = True

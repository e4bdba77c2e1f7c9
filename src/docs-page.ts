import type { Context } from "hono";

/**
 * GET /docs: Swagger UI on this service's OpenAPI document, entirely from the Worker's own static
 * assets (public/vendor/swagger-ui, pinned and vendored; public/docs/swagger-init.js starts it).
 * Nothing loads from another origin, and the Content-Security-Policy says so: scripts, styles,
 * fonts and requests from 'self' only, no inline script (the page has none), images from 'self'
 * and data: URIs (Swagger UI's icons live in its stylesheet).
 * docs/decisions/121-swagger-ui-is-vendored-and-served-under-a-csp.md
 */
export const DOCS_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Seatkeeper API reference</title>
<link rel="icon" type="image/png" href="/vendor/swagger-ui/favicon-32x32.png">
<link rel="stylesheet" href="/vendor/swagger-ui/swagger-ui.css">
<script src="/vendor/swagger-ui/swagger-ui-bundle.js" defer></script>
<script src="/docs/swagger-init.js" defer></script>
</head>
<body>
<noscript>The API reference needs JavaScript; the document itself is <a href="/openapi.json">/openapi.json</a>.</noscript>
<div id="swagger-ui"></div>
</body>
</html>
`;

export function docsPage(c: Context): Response {
  return c.html(PAGE, 200, {
    "content-security-policy": DOCS_CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
  });
}

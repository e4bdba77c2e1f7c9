// GET /docs: starts the vendored Swagger UI (public/vendor/swagger-ui) on this service's own
// OpenAPI document. A file, not an inline script, so the page's Content-Security-Policy allows
// scripts from 'self' only. The validator badge is off: it would send the document to another origin.
window.addEventListener("DOMContentLoaded", () => {
  window.ui = window.SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    displayOperationId: true,
    presets: [window.SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
});

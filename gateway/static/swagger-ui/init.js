// Starts Swagger UI on /api/docs. A file rather than an inline script, so that the page's
// Content-Security-Policy can forbid inline scripts altogether.
"use strict";

window.ui = SwaggerUIBundle({
  url: "/api/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
  // The default validator badge calls an online service: the page must work offline.
  validatorUrl: null,
  // Keep tokens typed into "Authorize" out of localStorage.
  persistAuthorization: false,
});

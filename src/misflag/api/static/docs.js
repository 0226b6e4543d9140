// Swagger UI of misflag's API, served by misflag itself (no CDN): /docs works offline.
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({ url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true });
});

"""The operations surface: metrics, health, and the HTTP server that exposes them."""

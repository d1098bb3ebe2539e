"""The web app's routes, one ``APIRouter`` per resource; :func:`monitor.web.app.create_app` includes them."""

def pytest_configure(config):
    config.addinivalue_line(
        "markers", "compose: builds the images and runs the stack with Docker Compose (deselect: -m 'not compose')")

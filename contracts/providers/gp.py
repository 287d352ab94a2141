"""stub"""

async def prepare(t):
    pass

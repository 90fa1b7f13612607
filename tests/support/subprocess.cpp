// placeholder until the real file lands

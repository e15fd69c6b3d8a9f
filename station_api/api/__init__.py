"""HTTP layer of the station API: dependencies, schemas and routers."""

"""An emulated RoboMaster EP that speaks the robomaster SDK's wire protocol."""

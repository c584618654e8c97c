"""RoboMaster EP driver: SDK adapter, simulator and the ROS node around them."""

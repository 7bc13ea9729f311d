"""What both HTTP services share: the app factory, health routes and error replies."""

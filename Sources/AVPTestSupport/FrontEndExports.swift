// The Swift front end (GuestDriver, VhostUserFrontend, DriverRing, ...) moved to the production
// target FrontEnd (`avp conformance --probe` drives back ends with it); tests, avp-bench and
// fuzz targets keep reaching it through AVPTestSupport.
@_exported import FrontEnd

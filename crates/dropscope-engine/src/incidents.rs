//! Fleet incidents: windows where disconnects jump far above the fleet baseline.

// Package deploy holds no code: this directory keeps pforte's systemd unit,
// and its tests check the unit, the Dockerfile and the shared build script
// (.ci/build) the image and CI both use.
package deploy

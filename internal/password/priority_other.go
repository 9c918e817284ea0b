//go:build !linux

package password

// lowerPriority does nothing where thread priorities are not per thread.
func lowerPriority() {}

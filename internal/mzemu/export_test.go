package mzemu

// SetStartupFault makes the startup steps (over a backing database) for
// which f returns an error fail with it, until the returned function
// restores the previous hook.
func SetStartupFault(f func(backingURL, step string) error) (restore func()) {
	old := startupFault.Swap(&f)
	return func() { startupFault.Store(old) }
}

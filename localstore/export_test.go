package localstore

// CrashAt makes the process kill itself at the named step of a Put.
func CrashAt(step string, kill func()) {
	crashPoint = func(s string) {
		if s == step {
			kill()
		}
	}
}

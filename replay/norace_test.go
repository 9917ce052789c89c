//go:build !race

package replay_test

// raceEnabled is true in -race builds, where timing targets and large
// volumes are scaled down.
const raceEnabled = false

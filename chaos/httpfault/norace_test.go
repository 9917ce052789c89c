//go:build !race

package httpfault

const raceEnabled = false

//go:build race

package httpfault

const raceEnabled = true

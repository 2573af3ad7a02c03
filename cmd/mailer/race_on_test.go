//go:build race

package main

// raceEnabled: the race detector's shadow memory multiplies a process's
// RSS, so memory ceilings are not checked under -race.
const raceEnabled = true

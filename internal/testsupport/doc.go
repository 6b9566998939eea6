// Package testsupport holds the helpers that the plugin's unit tests, the fake
// server's tests and the end-to-end tests share: a settable clock, a log
// buffer safe for many writers, and the check that no secret leaked.
package testsupport

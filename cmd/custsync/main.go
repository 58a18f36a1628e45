// Command custsync synchronises ERP customer master data with the commerce platform's customer APIs.
package main

import "os"

func main() { os.Exit(Main(os.Args, Streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr})) }

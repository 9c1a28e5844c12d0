// Command receiver is the smallest callback receiver for ccgw's push mode: it
// prints each push (its X-CCGW-Seq and JSON body) on stdout and answers
// {"message":"success","retcode":"0"}, which the gateway takes as delivered.
//
//	go run ./examples/receiver --addr 127.0.0.1:8090
//
// Sign an agent in with "callBackUri":"http://127.0.0.1:8090/events" and any
// "serviceToken" (README, "Push mode"). A gateway listening on loopback may
// push to a receiver on loopback.
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8090", "listen `HOST:PORT`")
	flag.Parse()
	http.HandleFunc("POST /", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Printf("push seq=%s %s\n", r.Header.Get("X-CCGW-Seq"), body)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"message":"success","retcode":"0"}`)
	})
	log.Printf("receiver listening on %s", *addr)
	log.Fatal(http.ListenAndServe(*addr, nil))
}

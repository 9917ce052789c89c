package kservegrpc

import (
	"context"
	"fmt"
	"net"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"

	"github.com/gonogo-dev/gonogo/internal/kservepb"
)

// bytesCodec passes *[]byte messages through as they are, for test
// servers that answer raw bytes.
type bytesCodec struct{}

var _ encoding.CodecV2 = bytesCodec{}

func (bytesCodec) Name() string { return "proto" }

func (bytesCodec) Marshal(v any) (mem.BufferSlice, error) {
	b, ok := v.(*[]byte)
	if !ok {
		return nil, fmt.Errorf("bytesCodec: %T", v)
	}
	return mem.BufferSlice{mem.SliceBuffer(*b)}, nil
}

func (bytesCodec) Unmarshal(data mem.BufferSlice, v any) error {
	b, ok := v.(*[]byte)
	if !ok {
		return fmt.Errorf("bytesCodec: %T", v)
	}
	*b = data.Materialize()
	return nil
}

// rawServer serves every method on a loopback port with handle, which gets
// the request message's bytes and returns the response's (or an error
// status); it returns the address.
func rawServer(tb testing.TB, handle func(ctx context.Context, method string, req []byte) ([]byte, error)) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	gs := grpc.NewServer(grpc.ForceServerCodecV2(bytesCodec{}), grpc.UnknownServiceHandler(func(_ any, ss grpc.ServerStream) error {
		var req []byte
		if err := ss.RecvMsg(&req); err != nil {
			return err
		}
		method, _ := grpc.MethodFromServerStream(ss)
		resp, err := handle(ss.Context(), method, req)
		if err != nil {
			return err
		}
		return ss.SendMsg(&resp)
	}))
	go gs.Serve(ln)
	tb.Cleanup(gs.Stop)
	return ln.Addr().String()
}

// fixedResponse is a valid ModelInferResponse: one FP32 output [1, 4].
func fixedResponse(tb testing.TB) []byte {
	tb.Helper()
	b, err := proto.Marshal(&kservepb.ModelInferResponse{ModelName: "m", Outputs: []*kservepb.ModelInferResponse_InferOutputTensor{{
		Name: "output", Datatype: "FP32", Shape: []int64{1, 4},
		Contents: &kservepb.InferTensorContents{Fp32Contents: []float32{0.5, -1, 2.25, 3}},
	}}})
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

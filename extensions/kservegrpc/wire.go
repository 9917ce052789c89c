package kservegrpc

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"sync/atomic"

	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/stats"
	"google.golang.org/protobuf/encoding/protowire"
)

// call is the state of one ModelInfer call, pooled between calls: the
// request's ID, the response's bytes, whether the server sent a status
// and the parsed response. It is both the request and the reply message of
// the call: the codec encodes the request from it and copies the response
// into it.
type call struct {
	c     *Client
	id    uint64      // the Request.ID the input is derived from
	resp  []byte      // the response message as received
	clean atomic.Bool // a status (trailers) arrived from the server
	r     response    // the parsed response
}

// callKey finds the *call in the context of its RPC (see callCtx).
type callKey struct{}

// callCtx is the context of one call: the per-request context, plus the
// *call under callKey, so that the stats handler can find the call it is
// told about (one allocation, where context.WithValue costs two).
type callCtx struct {
	context.Context
	c *call
}

// Value returns the call under callKey and defers every other key.
func (x *callCtx) Value(key any) any {
	if _, ok := key.(callKey); ok {
		return x.c
	}
	return x.Context.Value(key)
}

// codec is the client's gRPC codec. It encodes a *call's request straight
// from the request ID (no message struct, no reflection) and keeps a
// *call's response bytes as they came, so that a response that is not
// valid protobuf is reported by Do as a protocol error rather than by gRPC
// as an INTERNAL status. Any other message (the readiness checks' generated
// messages) goes to gRPC's protobuf codec.
type codec struct{}

var _ encoding.CodecV2 = codec{}

// protoCodec is gRPC's registered protobuf codec.
var protoCodec = encoding.GetCodecV2("proto")

// Name is "proto": the content-subtype stays application/grpc+proto.
func (codec) Name() string { return "proto" }

// Marshal encodes a *call's ModelInferRequest; other messages go to the
// protobuf codec.
func (codec) Marshal(v any) (mem.BufferSlice, error) {
	cl, ok := v.(*call)
	if !ok {
		return protoCodec.Marshal(v)
	}
	c := cl.c
	size := len(c.head) + 4*c.inputLen
	if mem.IsBelowBufferPoolingThreshold(size) {
		b := make([]byte, 0, size)
		return mem.BufferSlice{mem.SliceBuffer(c.appendRequest(b, cl.id))}, nil
	}
	pool := mem.DefaultBufferPool()
	bp := pool.Get(size)
	*bp = c.appendRequest((*bp)[:0], cl.id)
	return mem.BufferSlice{mem.NewBuffer(bp, pool)}, nil
}

// Unmarshal copies the response into a *call (it never fails: Do checks
// the bytes); other messages go to the protobuf codec.
func (codec) Unmarshal(data mem.BufferSlice, v any) error {
	cl, ok := v.(*call)
	if !ok {
		return protoCodec.Unmarshal(data, v)
	}
	n := data.Len()
	if cap(cl.resp) < n {
		cl.resp = make([]byte, n)
	}
	cl.resp = cl.resp[:n]
	data.CopyTo(cl.resp)
	return nil
}

// statsHandler tells a call whether its status came from the server: gRPC
// reports the trailers it received (InTrailer, also for a trailers-only
// answer) before it ends the call, and never for a call that ended by a
// transport failure (a reset stream, a dropped or refused connection).
type statsHandler struct{}

var _ stats.Handler = statsHandler{}

// TagRPC returns ctx: the call is in it already (callCtx).
func (statsHandler) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context { return ctx }

// HandleRPC marks the call clean when its trailers arrive.
func (statsHandler) HandleRPC(ctx context.Context, s stats.RPCStats) {
	if _, ok := s.(*stats.InTrailer); !ok {
		return
	}
	if cl, ok := ctx.Value(callKey{}).(*call); ok {
		cl.clean.Store(true)
	}
}

// TagConn returns ctx.
func (statsHandler) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context { return ctx }

// HandleConn does nothing.
func (statsHandler) HandleConn(context.Context, stats.ConnStats) {}

// Field numbers of the messages the client encodes and parses (see
// internal/kservepb/grpc_predict_v2.proto).
const (
	reqModelName = 1 // ModelInferRequest.model_name
	reqInputs    = 5 // ModelInferRequest.inputs
	reqRaw       = 7 // ModelInferRequest.raw_input_contents

	tensorName     = 1 // name of an input or output tensor
	tensorDatatype = 2
	tensorShape    = 3
	tensorContents = 5

	respOutputs = 5 // ModelInferResponse.outputs
	respRaw     = 6 // ModelInferResponse.raw_output_contents
)

// requestHead encodes the part of every ModelInferRequest that does not
// depend on the request: model_name, the one input tensor (name, FP32,
// shape [1, inputLen]) and the tag and length of its raw_input_contents,
// which Client.appendRequest follows with the data.
func requestHead(model string, inputLen int) []byte {
	var in []byte
	in = protowire.AppendTag(in, tensorName, protowire.BytesType)
	in = protowire.AppendString(in, InputName)
	in = protowire.AppendTag(in, tensorDatatype, protowire.BytesType)
	in = protowire.AppendString(in, "FP32")
	var shape []byte
	shape = protowire.AppendVarint(shape, 1)
	shape = protowire.AppendVarint(shape, uint64(inputLen))
	in = protowire.AppendTag(in, tensorShape, protowire.BytesType)
	in = protowire.AppendBytes(in, shape)

	var b []byte
	b = protowire.AppendTag(b, reqModelName, protowire.BytesType)
	b = protowire.AppendString(b, model)
	b = protowire.AppendTag(b, reqInputs, protowire.BytesType)
	b = protowire.AppendBytes(b, in)
	b = protowire.AppendTag(b, reqRaw, protowire.BytesType)
	return protowire.AppendVarint(b, uint64(4*inputLen))
}

// appendRequest appends the ModelInferRequest of request id to b.
func (c *Client) appendRequest(b []byte, id uint64) []byte {
	b = append(b, c.head...)
	x := id*0x9e3779b97f4a7c15 + 1
	for range c.inputLen {
		x += 0x9e3779b97f4a7c15
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(inputValue(x)))
	}
	return b
}

// inputValue is one input element: a SplitMix64 step of x mapped to
// [-1, 1) with float32 precision, as the kserve (REST) client computes it.
func inputValue(x uint64) float32 {
	z := x
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	z ^= z >> 31
	return float32(float64(z>>40)/float64(1<<23) - 1)
}

// Input returns the input tensor's data of request id: inputLen values,
// the same the kserve (REST) client sends for that id.
func Input(id uint64, inputLen int) []float32 {
	out := make([]float32, inputLen)
	x := id*0x9e3779b97f4a7c15 + 1
	for i := range out {
		x += 0x9e3779b97f4a7c15
		out[i] = inputValue(x)
	}
	return out
}

// wireError is a protobuf encoding error of a response.
func wireError(what string, n int) error {
	return fmt.Errorf("%s: %w", what, protowire.ParseError(n))
}

// Package kservepb is the KServe v2 inference protocol over gRPC (the Open
// Inference Protocol's GRPCInferenceService, proto package "inference"):
// the messages and the client and server stubs generated from
// grpc_predict_v2.proto, which is KServe's own definition (Apache-2.0).
//
// It is protocol definition only, with no behaviour of gonogo, so that both
// the simulated server (fixtures/modelserver) and the load client
// (extensions/kservegrpc) may import it. The generated files are committed;
// scripts/gen-proto.sh regenerates them.
//
// Full method names, as gRPC interceptors and the gRPC fault proxy
// (chaos/grpcfault) match them, are the GRPCInferenceService_*_FullMethodName
// constants, e.g. "/inference.GRPCInferenceService/ModelInfer".
package kservepb

// Original file: switchboard/v1/echo.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { EchoRequest as _switchboard_v1_EchoRequest, EchoRequest__Output as _switchboard_v1_EchoRequest__Output } from '../../switchboard/v1/EchoRequest';
import type { EchoResponse as _switchboard_v1_EchoResponse, EchoResponse__Output as _switchboard_v1_EchoResponse__Output } from '../../switchboard/v1/EchoResponse';
import type { PingRequest as _switchboard_v1_PingRequest, PingRequest__Output as _switchboard_v1_PingRequest__Output } from '../../switchboard/v1/PingRequest';
import type { PingResponse as _switchboard_v1_PingResponse, PingResponse__Output as _switchboard_v1_PingResponse__Output } from '../../switchboard/v1/PingResponse';

export interface EchoServiceClient extends grpc.Client {
  Echo(argument: _switchboard_v1_EchoRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_switchboard_v1_EchoResponse__Output>): grpc.ClientUnaryCall;
  Echo(argument: _switchboard_v1_EchoRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_switchboard_v1_EchoResponse__Output>): grpc.ClientUnaryCall;
  Echo(argument: _switchboard_v1_EchoRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_switchboard_v1_EchoResponse__Output>): grpc.ClientUnaryCall;
  Echo(argument: _switchboard_v1_EchoRequest, callback: grpc.requestCallback<_switchboard_v1_EchoResponse__Output>): grpc.ClientUnaryCall;
  echo(argument: _switchboard_v1_EchoRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_switchboard_v1_EchoResponse__Output>): grpc.ClientUnaryCall;
  echo(argument: _switchboard_v1_EchoRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_switchboard_v1_EchoResponse__Output>): grpc.ClientUnaryCall;
  echo(argument: _switchboard_v1_EchoRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_switchboard_v1_EchoResponse__Output>): grpc.ClientUnaryCall;
  echo(argument: _switchboard_v1_EchoRequest, callback: grpc.requestCallback<_switchboard_v1_EchoResponse__Output>): grpc.ClientUnaryCall;
  
  Ping(argument: _switchboard_v1_PingRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_switchboard_v1_PingResponse__Output>): grpc.ClientUnaryCall;
  Ping(argument: _switchboard_v1_PingRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_switchboard_v1_PingResponse__Output>): grpc.ClientUnaryCall;
  Ping(argument: _switchboard_v1_PingRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_switchboard_v1_PingResponse__Output>): grpc.ClientUnaryCall;
  Ping(argument: _switchboard_v1_PingRequest, callback: grpc.requestCallback<_switchboard_v1_PingResponse__Output>): grpc.ClientUnaryCall;
  ping(argument: _switchboard_v1_PingRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_switchboard_v1_PingResponse__Output>): grpc.ClientUnaryCall;
  ping(argument: _switchboard_v1_PingRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_switchboard_v1_PingResponse__Output>): grpc.ClientUnaryCall;
  ping(argument: _switchboard_v1_PingRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_switchboard_v1_PingResponse__Output>): grpc.ClientUnaryCall;
  ping(argument: _switchboard_v1_PingRequest, callback: grpc.requestCallback<_switchboard_v1_PingResponse__Output>): grpc.ClientUnaryCall;
  
}

export interface EchoServiceHandlers extends grpc.UntypedServiceImplementation {
  Echo: grpc.handleUnaryCall<_switchboard_v1_EchoRequest__Output, _switchboard_v1_EchoResponse>;
  
  Ping: grpc.handleUnaryCall<_switchboard_v1_PingRequest__Output, _switchboard_v1_PingResponse>;
  
}

export interface EchoServiceDefinition extends grpc.ServiceDefinition {
  Echo: MethodDefinition<_switchboard_v1_EchoRequest, _switchboard_v1_EchoResponse, _switchboard_v1_EchoRequest__Output, _switchboard_v1_EchoResponse__Output>
  Ping: MethodDefinition<_switchboard_v1_PingRequest, _switchboard_v1_PingResponse, _switchboard_v1_PingRequest__Output, _switchboard_v1_PingResponse__Output>
}

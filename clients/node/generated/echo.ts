import type * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition } from '@grpc/proto-loader';

import type { Timestamp as _google_protobuf_Timestamp, Timestamp__Output as _google_protobuf_Timestamp__Output } from './google/protobuf/Timestamp';
import type { EchoRequest as _switchboard_v1_EchoRequest, EchoRequest__Output as _switchboard_v1_EchoRequest__Output } from './switchboard/v1/EchoRequest';
import type { EchoResponse as _switchboard_v1_EchoResponse, EchoResponse__Output as _switchboard_v1_EchoResponse__Output } from './switchboard/v1/EchoResponse';
import type { EchoServiceClient as _switchboard_v1_EchoServiceClient, EchoServiceDefinition as _switchboard_v1_EchoServiceDefinition } from './switchboard/v1/EchoService';
import type { PingRequest as _switchboard_v1_PingRequest, PingRequest__Output as _switchboard_v1_PingRequest__Output } from './switchboard/v1/PingRequest';
import type { PingResponse as _switchboard_v1_PingResponse, PingResponse__Output as _switchboard_v1_PingResponse__Output } from './switchboard/v1/PingResponse';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  google: {
    protobuf: {
      Timestamp: MessageTypeDefinition<_google_protobuf_Timestamp, _google_protobuf_Timestamp__Output>
    }
  }
  switchboard: {
    v1: {
      EchoRequest: MessageTypeDefinition<_switchboard_v1_EchoRequest, _switchboard_v1_EchoRequest__Output>
      EchoResponse: MessageTypeDefinition<_switchboard_v1_EchoResponse, _switchboard_v1_EchoResponse__Output>
      EchoService: SubtypeConstructor<typeof grpc.Client, _switchboard_v1_EchoServiceClient> & { service: _switchboard_v1_EchoServiceDefinition }
      PingRequest: MessageTypeDefinition<_switchboard_v1_PingRequest, _switchboard_v1_PingRequest__Output>
      PingResponse: MessageTypeDefinition<_switchboard_v1_PingResponse, _switchboard_v1_PingResponse__Output>
    }
  }
}


import type * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition } from '@grpc/proto-loader';

import type { Timestamp as _google_protobuf_Timestamp, Timestamp__Output as _google_protobuf_Timestamp__Output } from './google/protobuf/Timestamp';
import type { DeleteRequest as _switchboard_v1_DeleteRequest, DeleteRequest__Output as _switchboard_v1_DeleteRequest__Output } from './switchboard/v1/DeleteRequest';
import type { DeleteResponse as _switchboard_v1_DeleteResponse, DeleteResponse__Output as _switchboard_v1_DeleteResponse__Output } from './switchboard/v1/DeleteResponse';
import type { GetRequest as _switchboard_v1_GetRequest, GetRequest__Output as _switchboard_v1_GetRequest__Output } from './switchboard/v1/GetRequest';
import type { GetResponse as _switchboard_v1_GetResponse, GetResponse__Output as _switchboard_v1_GetResponse__Output } from './switchboard/v1/GetResponse';
import type { KvServiceClient as _switchboard_v1_KvServiceClient, KvServiceDefinition as _switchboard_v1_KvServiceDefinition } from './switchboard/v1/KvService';
import type { ListKeysRequest as _switchboard_v1_ListKeysRequest, ListKeysRequest__Output as _switchboard_v1_ListKeysRequest__Output } from './switchboard/v1/ListKeysRequest';
import type { ListKeysResponse as _switchboard_v1_ListKeysResponse, ListKeysResponse__Output as _switchboard_v1_ListKeysResponse__Output } from './switchboard/v1/ListKeysResponse';
import type { SetRequest as _switchboard_v1_SetRequest, SetRequest__Output as _switchboard_v1_SetRequest__Output } from './switchboard/v1/SetRequest';
import type { SetResponse as _switchboard_v1_SetResponse, SetResponse__Output as _switchboard_v1_SetResponse__Output } from './switchboard/v1/SetResponse';
import type { WatchEvent as _switchboard_v1_WatchEvent, WatchEvent__Output as _switchboard_v1_WatchEvent__Output } from './switchboard/v1/WatchEvent';
import type { WatchRequest as _switchboard_v1_WatchRequest, WatchRequest__Output as _switchboard_v1_WatchRequest__Output } from './switchboard/v1/WatchRequest';

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
      DeleteRequest: MessageTypeDefinition<_switchboard_v1_DeleteRequest, _switchboard_v1_DeleteRequest__Output>
      DeleteResponse: MessageTypeDefinition<_switchboard_v1_DeleteResponse, _switchboard_v1_DeleteResponse__Output>
      GetRequest: MessageTypeDefinition<_switchboard_v1_GetRequest, _switchboard_v1_GetRequest__Output>
      GetResponse: MessageTypeDefinition<_switchboard_v1_GetResponse, _switchboard_v1_GetResponse__Output>
      KvService: SubtypeConstructor<typeof grpc.Client, _switchboard_v1_KvServiceClient> & { service: _switchboard_v1_KvServiceDefinition }
      ListKeysRequest: MessageTypeDefinition<_switchboard_v1_ListKeysRequest, _switchboard_v1_ListKeysRequest__Output>
      ListKeysResponse: MessageTypeDefinition<_switchboard_v1_ListKeysResponse, _switchboard_v1_ListKeysResponse__Output>
      SetRequest: MessageTypeDefinition<_switchboard_v1_SetRequest, _switchboard_v1_SetRequest__Output>
      SetResponse: MessageTypeDefinition<_switchboard_v1_SetResponse, _switchboard_v1_SetResponse__Output>
      WatchEvent: MessageTypeDefinition<_switchboard_v1_WatchEvent, _switchboard_v1_WatchEvent__Output>
      WatchRequest: MessageTypeDefinition<_switchboard_v1_WatchRequest, _switchboard_v1_WatchRequest__Output>
    }
  }
}


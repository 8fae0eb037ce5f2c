// Original file: switchboard/v1/kv.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { DeleteRequest as _switchboard_v1_DeleteRequest, DeleteRequest__Output as _switchboard_v1_DeleteRequest__Output } from '../../switchboard/v1/DeleteRequest';
import type { DeleteResponse as _switchboard_v1_DeleteResponse, DeleteResponse__Output as _switchboard_v1_DeleteResponse__Output } from '../../switchboard/v1/DeleteResponse';
import type { GetRequest as _switchboard_v1_GetRequest, GetRequest__Output as _switchboard_v1_GetRequest__Output } from '../../switchboard/v1/GetRequest';
import type { GetResponse as _switchboard_v1_GetResponse, GetResponse__Output as _switchboard_v1_GetResponse__Output } from '../../switchboard/v1/GetResponse';
import type { ListKeysRequest as _switchboard_v1_ListKeysRequest, ListKeysRequest__Output as _switchboard_v1_ListKeysRequest__Output } from '../../switchboard/v1/ListKeysRequest';
import type { ListKeysResponse as _switchboard_v1_ListKeysResponse, ListKeysResponse__Output as _switchboard_v1_ListKeysResponse__Output } from '../../switchboard/v1/ListKeysResponse';
import type { SetRequest as _switchboard_v1_SetRequest, SetRequest__Output as _switchboard_v1_SetRequest__Output } from '../../switchboard/v1/SetRequest';
import type { SetResponse as _switchboard_v1_SetResponse, SetResponse__Output as _switchboard_v1_SetResponse__Output } from '../../switchboard/v1/SetResponse';
import type { WatchEvent as _switchboard_v1_WatchEvent, WatchEvent__Output as _switchboard_v1_WatchEvent__Output } from '../../switchboard/v1/WatchEvent';
import type { WatchRequest as _switchboard_v1_WatchRequest, WatchRequest__Output as _switchboard_v1_WatchRequest__Output } from '../../switchboard/v1/WatchRequest';

export interface KvServiceClient extends grpc.Client {
  Delete(argument: _switchboard_v1_DeleteRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_switchboard_v1_DeleteResponse__Output>): grpc.ClientUnaryCall;
  Delete(argument: _switchboard_v1_DeleteRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_switchboard_v1_DeleteResponse__Output>): grpc.ClientUnaryCall;
  Delete(argument: _switchboard_v1_DeleteRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_switchboard_v1_DeleteResponse__Output>): grpc.ClientUnaryCall;
  Delete(argument: _switchboard_v1_DeleteRequest, callback: grpc.requestCallback<_switchboard_v1_DeleteResponse__Output>): grpc.ClientUnaryCall;
  delete(argument: _switchboard_v1_DeleteRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_switchboard_v1_DeleteResponse__Output>): grpc.ClientUnaryCall;
  delete(argument: _switchboard_v1_DeleteRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_switchboard_v1_DeleteResponse__Output>): grpc.ClientUnaryCall;
  delete(argument: _switchboard_v1_DeleteRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_switchboard_v1_DeleteResponse__Output>): grpc.ClientUnaryCall;
  delete(argument: _switchboard_v1_DeleteRequest, callback: grpc.requestCallback<_switchboard_v1_DeleteResponse__Output>): grpc.ClientUnaryCall;
  
  Get(argument: _switchboard_v1_GetRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_switchboard_v1_GetResponse__Output>): grpc.ClientUnaryCall;
  Get(argument: _switchboard_v1_GetRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_switchboard_v1_GetResponse__Output>): grpc.ClientUnaryCall;
  Get(argument: _switchboard_v1_GetRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_switchboard_v1_GetResponse__Output>): grpc.ClientUnaryCall;
  Get(argument: _switchboard_v1_GetRequest, callback: grpc.requestCallback<_switchboard_v1_GetResponse__Output>): grpc.ClientUnaryCall;
  get(argument: _switchboard_v1_GetRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_switchboard_v1_GetResponse__Output>): grpc.ClientUnaryCall;
  get(argument: _switchboard_v1_GetRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_switchboard_v1_GetResponse__Output>): grpc.ClientUnaryCall;
  get(argument: _switchboard_v1_GetRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_switchboard_v1_GetResponse__Output>): grpc.ClientUnaryCall;
  get(argument: _switchboard_v1_GetRequest, callback: grpc.requestCallback<_switchboard_v1_GetResponse__Output>): grpc.ClientUnaryCall;
  
  ListKeys(argument: _switchboard_v1_ListKeysRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_switchboard_v1_ListKeysResponse__Output>): grpc.ClientUnaryCall;
  ListKeys(argument: _switchboard_v1_ListKeysRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_switchboard_v1_ListKeysResponse__Output>): grpc.ClientUnaryCall;
  ListKeys(argument: _switchboard_v1_ListKeysRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_switchboard_v1_ListKeysResponse__Output>): grpc.ClientUnaryCall;
  ListKeys(argument: _switchboard_v1_ListKeysRequest, callback: grpc.requestCallback<_switchboard_v1_ListKeysResponse__Output>): grpc.ClientUnaryCall;
  listKeys(argument: _switchboard_v1_ListKeysRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_switchboard_v1_ListKeysResponse__Output>): grpc.ClientUnaryCall;
  listKeys(argument: _switchboard_v1_ListKeysRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_switchboard_v1_ListKeysResponse__Output>): grpc.ClientUnaryCall;
  listKeys(argument: _switchboard_v1_ListKeysRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_switchboard_v1_ListKeysResponse__Output>): grpc.ClientUnaryCall;
  listKeys(argument: _switchboard_v1_ListKeysRequest, callback: grpc.requestCallback<_switchboard_v1_ListKeysResponse__Output>): grpc.ClientUnaryCall;
  
  Set(argument: _switchboard_v1_SetRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_switchboard_v1_SetResponse__Output>): grpc.ClientUnaryCall;
  Set(argument: _switchboard_v1_SetRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_switchboard_v1_SetResponse__Output>): grpc.ClientUnaryCall;
  Set(argument: _switchboard_v1_SetRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_switchboard_v1_SetResponse__Output>): grpc.ClientUnaryCall;
  Set(argument: _switchboard_v1_SetRequest, callback: grpc.requestCallback<_switchboard_v1_SetResponse__Output>): grpc.ClientUnaryCall;
  set(argument: _switchboard_v1_SetRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_switchboard_v1_SetResponse__Output>): grpc.ClientUnaryCall;
  set(argument: _switchboard_v1_SetRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_switchboard_v1_SetResponse__Output>): grpc.ClientUnaryCall;
  set(argument: _switchboard_v1_SetRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_switchboard_v1_SetResponse__Output>): grpc.ClientUnaryCall;
  set(argument: _switchboard_v1_SetRequest, callback: grpc.requestCallback<_switchboard_v1_SetResponse__Output>): grpc.ClientUnaryCall;
  
  Watch(argument: _switchboard_v1_WatchRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_switchboard_v1_WatchEvent__Output>;
  Watch(argument: _switchboard_v1_WatchRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_switchboard_v1_WatchEvent__Output>;
  watch(argument: _switchboard_v1_WatchRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_switchboard_v1_WatchEvent__Output>;
  watch(argument: _switchboard_v1_WatchRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_switchboard_v1_WatchEvent__Output>;
  
}

export interface KvServiceHandlers extends grpc.UntypedServiceImplementation {
  Delete: grpc.handleUnaryCall<_switchboard_v1_DeleteRequest__Output, _switchboard_v1_DeleteResponse>;
  
  Get: grpc.handleUnaryCall<_switchboard_v1_GetRequest__Output, _switchboard_v1_GetResponse>;
  
  ListKeys: grpc.handleUnaryCall<_switchboard_v1_ListKeysRequest__Output, _switchboard_v1_ListKeysResponse>;
  
  Set: grpc.handleUnaryCall<_switchboard_v1_SetRequest__Output, _switchboard_v1_SetResponse>;
  
  Watch: grpc.handleServerStreamingCall<_switchboard_v1_WatchRequest__Output, _switchboard_v1_WatchEvent>;
  
}

export interface KvServiceDefinition extends grpc.ServiceDefinition {
  Delete: MethodDefinition<_switchboard_v1_DeleteRequest, _switchboard_v1_DeleteResponse, _switchboard_v1_DeleteRequest__Output, _switchboard_v1_DeleteResponse__Output>
  Get: MethodDefinition<_switchboard_v1_GetRequest, _switchboard_v1_GetResponse, _switchboard_v1_GetRequest__Output, _switchboard_v1_GetResponse__Output>
  ListKeys: MethodDefinition<_switchboard_v1_ListKeysRequest, _switchboard_v1_ListKeysResponse, _switchboard_v1_ListKeysRequest__Output, _switchboard_v1_ListKeysResponse__Output>
  Set: MethodDefinition<_switchboard_v1_SetRequest, _switchboard_v1_SetResponse, _switchboard_v1_SetRequest__Output, _switchboard_v1_SetResponse__Output>
  Watch: MethodDefinition<_switchboard_v1_WatchRequest, _switchboard_v1_WatchEvent, _switchboard_v1_WatchRequest__Output, _switchboard_v1_WatchEvent__Output>
}

// Original file: switchboard/v1/chat.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { ChatEvent as _switchboard_v1_ChatEvent, ChatEvent__Output as _switchboard_v1_ChatEvent__Output } from '../../switchboard/v1/ChatEvent';
import type { ChatRequest as _switchboard_v1_ChatRequest, ChatRequest__Output as _switchboard_v1_ChatRequest__Output } from '../../switchboard/v1/ChatRequest';
import type { ListMembersRequest as _switchboard_v1_ListMembersRequest, ListMembersRequest__Output as _switchboard_v1_ListMembersRequest__Output } from '../../switchboard/v1/ListMembersRequest';
import type { ListMembersResponse as _switchboard_v1_ListMembersResponse, ListMembersResponse__Output as _switchboard_v1_ListMembersResponse__Output } from '../../switchboard/v1/ListMembersResponse';
import type { WatchRoomRequest as _switchboard_v1_WatchRoomRequest, WatchRoomRequest__Output as _switchboard_v1_WatchRoomRequest__Output } from '../../switchboard/v1/WatchRoomRequest';

export interface ChatServiceClient extends grpc.Client {
  Chat(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_switchboard_v1_ChatRequest, _switchboard_v1_ChatEvent__Output>;
  Chat(options?: grpc.CallOptions): grpc.ClientDuplexStream<_switchboard_v1_ChatRequest, _switchboard_v1_ChatEvent__Output>;
  chat(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_switchboard_v1_ChatRequest, _switchboard_v1_ChatEvent__Output>;
  chat(options?: grpc.CallOptions): grpc.ClientDuplexStream<_switchboard_v1_ChatRequest, _switchboard_v1_ChatEvent__Output>;
  
  ListMembers(argument: _switchboard_v1_ListMembersRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_switchboard_v1_ListMembersResponse__Output>): grpc.ClientUnaryCall;
  ListMembers(argument: _switchboard_v1_ListMembersRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_switchboard_v1_ListMembersResponse__Output>): grpc.ClientUnaryCall;
  ListMembers(argument: _switchboard_v1_ListMembersRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_switchboard_v1_ListMembersResponse__Output>): grpc.ClientUnaryCall;
  ListMembers(argument: _switchboard_v1_ListMembersRequest, callback: grpc.requestCallback<_switchboard_v1_ListMembersResponse__Output>): grpc.ClientUnaryCall;
  listMembers(argument: _switchboard_v1_ListMembersRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_switchboard_v1_ListMembersResponse__Output>): grpc.ClientUnaryCall;
  listMembers(argument: _switchboard_v1_ListMembersRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_switchboard_v1_ListMembersResponse__Output>): grpc.ClientUnaryCall;
  listMembers(argument: _switchboard_v1_ListMembersRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_switchboard_v1_ListMembersResponse__Output>): grpc.ClientUnaryCall;
  listMembers(argument: _switchboard_v1_ListMembersRequest, callback: grpc.requestCallback<_switchboard_v1_ListMembersResponse__Output>): grpc.ClientUnaryCall;
  
  WatchRoom(argument: _switchboard_v1_WatchRoomRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_switchboard_v1_ChatEvent__Output>;
  WatchRoom(argument: _switchboard_v1_WatchRoomRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_switchboard_v1_ChatEvent__Output>;
  watchRoom(argument: _switchboard_v1_WatchRoomRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_switchboard_v1_ChatEvent__Output>;
  watchRoom(argument: _switchboard_v1_WatchRoomRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_switchboard_v1_ChatEvent__Output>;
  
}

export interface ChatServiceHandlers extends grpc.UntypedServiceImplementation {
  Chat: grpc.handleBidiStreamingCall<_switchboard_v1_ChatRequest__Output, _switchboard_v1_ChatEvent>;
  
  ListMembers: grpc.handleUnaryCall<_switchboard_v1_ListMembersRequest__Output, _switchboard_v1_ListMembersResponse>;
  
  WatchRoom: grpc.handleServerStreamingCall<_switchboard_v1_WatchRoomRequest__Output, _switchboard_v1_ChatEvent>;
  
}

export interface ChatServiceDefinition extends grpc.ServiceDefinition {
  Chat: MethodDefinition<_switchboard_v1_ChatRequest, _switchboard_v1_ChatEvent, _switchboard_v1_ChatRequest__Output, _switchboard_v1_ChatEvent__Output>
  ListMembers: MethodDefinition<_switchboard_v1_ListMembersRequest, _switchboard_v1_ListMembersResponse, _switchboard_v1_ListMembersRequest__Output, _switchboard_v1_ListMembersResponse__Output>
  WatchRoom: MethodDefinition<_switchboard_v1_WatchRoomRequest, _switchboard_v1_ChatEvent, _switchboard_v1_WatchRoomRequest__Output, _switchboard_v1_ChatEvent__Output>
}

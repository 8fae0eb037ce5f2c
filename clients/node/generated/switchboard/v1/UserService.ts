// Original file: switchboard/v1/users.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { CreateUserRequest as _switchboard_v1_CreateUserRequest, CreateUserRequest__Output as _switchboard_v1_CreateUserRequest__Output } from '../../switchboard/v1/CreateUserRequest';
import type { DeleteUserRequest as _switchboard_v1_DeleteUserRequest, DeleteUserRequest__Output as _switchboard_v1_DeleteUserRequest__Output } from '../../switchboard/v1/DeleteUserRequest';
import type { Empty as _google_protobuf_Empty, Empty__Output as _google_protobuf_Empty__Output } from '../../google/protobuf/Empty';
import type { GetUserRequest as _switchboard_v1_GetUserRequest, GetUserRequest__Output as _switchboard_v1_GetUserRequest__Output } from '../../switchboard/v1/GetUserRequest';
import type { ListUsersRequest as _switchboard_v1_ListUsersRequest, ListUsersRequest__Output as _switchboard_v1_ListUsersRequest__Output } from '../../switchboard/v1/ListUsersRequest';
import type { ListUsersResponse as _switchboard_v1_ListUsersResponse, ListUsersResponse__Output as _switchboard_v1_ListUsersResponse__Output } from '../../switchboard/v1/ListUsersResponse';
import type { UpdateUserRequest as _switchboard_v1_UpdateUserRequest, UpdateUserRequest__Output as _switchboard_v1_UpdateUserRequest__Output } from '../../switchboard/v1/UpdateUserRequest';
import type { User as _switchboard_v1_User, User__Output as _switchboard_v1_User__Output } from '../../switchboard/v1/User';

export interface UserServiceClient extends grpc.Client {
  CreateUser(argument: _switchboard_v1_CreateUserRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_switchboard_v1_User__Output>): grpc.ClientUnaryCall;
  CreateUser(argument: _switchboard_v1_CreateUserRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_switchboard_v1_User__Output>): grpc.ClientUnaryCall;
  CreateUser(argument: _switchboard_v1_CreateUserRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_switchboard_v1_User__Output>): grpc.ClientUnaryCall;
  CreateUser(argument: _switchboard_v1_CreateUserRequest, callback: grpc.requestCallback<_switchboard_v1_User__Output>): grpc.ClientUnaryCall;
  createUser(argument: _switchboard_v1_CreateUserRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_switchboard_v1_User__Output>): grpc.ClientUnaryCall;
  createUser(argument: _switchboard_v1_CreateUserRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_switchboard_v1_User__Output>): grpc.ClientUnaryCall;
  createUser(argument: _switchboard_v1_CreateUserRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_switchboard_v1_User__Output>): grpc.ClientUnaryCall;
  createUser(argument: _switchboard_v1_CreateUserRequest, callback: grpc.requestCallback<_switchboard_v1_User__Output>): grpc.ClientUnaryCall;
  
  DeleteUser(argument: _switchboard_v1_DeleteUserRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_google_protobuf_Empty__Output>): grpc.ClientUnaryCall;
  DeleteUser(argument: _switchboard_v1_DeleteUserRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_google_protobuf_Empty__Output>): grpc.ClientUnaryCall;
  DeleteUser(argument: _switchboard_v1_DeleteUserRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_google_protobuf_Empty__Output>): grpc.ClientUnaryCall;
  DeleteUser(argument: _switchboard_v1_DeleteUserRequest, callback: grpc.requestCallback<_google_protobuf_Empty__Output>): grpc.ClientUnaryCall;
  deleteUser(argument: _switchboard_v1_DeleteUserRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_google_protobuf_Empty__Output>): grpc.ClientUnaryCall;
  deleteUser(argument: _switchboard_v1_DeleteUserRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_google_protobuf_Empty__Output>): grpc.ClientUnaryCall;
  deleteUser(argument: _switchboard_v1_DeleteUserRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_google_protobuf_Empty__Output>): grpc.ClientUnaryCall;
  deleteUser(argument: _switchboard_v1_DeleteUserRequest, callback: grpc.requestCallback<_google_protobuf_Empty__Output>): grpc.ClientUnaryCall;
  
  GetUser(argument: _switchboard_v1_GetUserRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_switchboard_v1_User__Output>): grpc.ClientUnaryCall;
  GetUser(argument: _switchboard_v1_GetUserRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_switchboard_v1_User__Output>): grpc.ClientUnaryCall;
  GetUser(argument: _switchboard_v1_GetUserRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_switchboard_v1_User__Output>): grpc.ClientUnaryCall;
  GetUser(argument: _switchboard_v1_GetUserRequest, callback: grpc.requestCallback<_switchboard_v1_User__Output>): grpc.ClientUnaryCall;
  getUser(argument: _switchboard_v1_GetUserRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_switchboard_v1_User__Output>): grpc.ClientUnaryCall;
  getUser(argument: _switchboard_v1_GetUserRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_switchboard_v1_User__Output>): grpc.ClientUnaryCall;
  getUser(argument: _switchboard_v1_GetUserRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_switchboard_v1_User__Output>): grpc.ClientUnaryCall;
  getUser(argument: _switchboard_v1_GetUserRequest, callback: grpc.requestCallback<_switchboard_v1_User__Output>): grpc.ClientUnaryCall;
  
  ListUsers(argument: _switchboard_v1_ListUsersRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_switchboard_v1_ListUsersResponse__Output>): grpc.ClientUnaryCall;
  ListUsers(argument: _switchboard_v1_ListUsersRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_switchboard_v1_ListUsersResponse__Output>): grpc.ClientUnaryCall;
  ListUsers(argument: _switchboard_v1_ListUsersRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_switchboard_v1_ListUsersResponse__Output>): grpc.ClientUnaryCall;
  ListUsers(argument: _switchboard_v1_ListUsersRequest, callback: grpc.requestCallback<_switchboard_v1_ListUsersResponse__Output>): grpc.ClientUnaryCall;
  listUsers(argument: _switchboard_v1_ListUsersRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_switchboard_v1_ListUsersResponse__Output>): grpc.ClientUnaryCall;
  listUsers(argument: _switchboard_v1_ListUsersRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_switchboard_v1_ListUsersResponse__Output>): grpc.ClientUnaryCall;
  listUsers(argument: _switchboard_v1_ListUsersRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_switchboard_v1_ListUsersResponse__Output>): grpc.ClientUnaryCall;
  listUsers(argument: _switchboard_v1_ListUsersRequest, callback: grpc.requestCallback<_switchboard_v1_ListUsersResponse__Output>): grpc.ClientUnaryCall;
  
  UpdateUser(argument: _switchboard_v1_UpdateUserRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_switchboard_v1_User__Output>): grpc.ClientUnaryCall;
  UpdateUser(argument: _switchboard_v1_UpdateUserRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_switchboard_v1_User__Output>): grpc.ClientUnaryCall;
  UpdateUser(argument: _switchboard_v1_UpdateUserRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_switchboard_v1_User__Output>): grpc.ClientUnaryCall;
  UpdateUser(argument: _switchboard_v1_UpdateUserRequest, callback: grpc.requestCallback<_switchboard_v1_User__Output>): grpc.ClientUnaryCall;
  updateUser(argument: _switchboard_v1_UpdateUserRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_switchboard_v1_User__Output>): grpc.ClientUnaryCall;
  updateUser(argument: _switchboard_v1_UpdateUserRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_switchboard_v1_User__Output>): grpc.ClientUnaryCall;
  updateUser(argument: _switchboard_v1_UpdateUserRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_switchboard_v1_User__Output>): grpc.ClientUnaryCall;
  updateUser(argument: _switchboard_v1_UpdateUserRequest, callback: grpc.requestCallback<_switchboard_v1_User__Output>): grpc.ClientUnaryCall;
  
}

export interface UserServiceHandlers extends grpc.UntypedServiceImplementation {
  CreateUser: grpc.handleUnaryCall<_switchboard_v1_CreateUserRequest__Output, _switchboard_v1_User>;
  
  DeleteUser: grpc.handleUnaryCall<_switchboard_v1_DeleteUserRequest__Output, _google_protobuf_Empty>;
  
  GetUser: grpc.handleUnaryCall<_switchboard_v1_GetUserRequest__Output, _switchboard_v1_User>;
  
  ListUsers: grpc.handleUnaryCall<_switchboard_v1_ListUsersRequest__Output, _switchboard_v1_ListUsersResponse>;
  
  UpdateUser: grpc.handleUnaryCall<_switchboard_v1_UpdateUserRequest__Output, _switchboard_v1_User>;
  
}

export interface UserServiceDefinition extends grpc.ServiceDefinition {
  CreateUser: MethodDefinition<_switchboard_v1_CreateUserRequest, _switchboard_v1_User, _switchboard_v1_CreateUserRequest__Output, _switchboard_v1_User__Output>
  DeleteUser: MethodDefinition<_switchboard_v1_DeleteUserRequest, _google_protobuf_Empty, _switchboard_v1_DeleteUserRequest__Output, _google_protobuf_Empty__Output>
  GetUser: MethodDefinition<_switchboard_v1_GetUserRequest, _switchboard_v1_User, _switchboard_v1_GetUserRequest__Output, _switchboard_v1_User__Output>
  ListUsers: MethodDefinition<_switchboard_v1_ListUsersRequest, _switchboard_v1_ListUsersResponse, _switchboard_v1_ListUsersRequest__Output, _switchboard_v1_ListUsersResponse__Output>
  UpdateUser: MethodDefinition<_switchboard_v1_UpdateUserRequest, _switchboard_v1_User, _switchboard_v1_UpdateUserRequest__Output, _switchboard_v1_User__Output>
}

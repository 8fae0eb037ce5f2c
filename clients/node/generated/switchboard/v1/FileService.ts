// Original file: switchboard/v1/files.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { DeleteFileRequest as _switchboard_v1_DeleteFileRequest, DeleteFileRequest__Output as _switchboard_v1_DeleteFileRequest__Output } from '../../switchboard/v1/DeleteFileRequest';
import type { DownloadRequest as _switchboard_v1_DownloadRequest, DownloadRequest__Output as _switchboard_v1_DownloadRequest__Output } from '../../switchboard/v1/DownloadRequest';
import type { DownloadResponse as _switchboard_v1_DownloadResponse, DownloadResponse__Output as _switchboard_v1_DownloadResponse__Output } from '../../switchboard/v1/DownloadResponse';
import type { Empty as _google_protobuf_Empty, Empty__Output as _google_protobuf_Empty__Output } from '../../google/protobuf/Empty';
import type { FileInfo as _switchboard_v1_FileInfo, FileInfo__Output as _switchboard_v1_FileInfo__Output } from '../../switchboard/v1/FileInfo';
import type { ListFilesRequest as _switchboard_v1_ListFilesRequest, ListFilesRequest__Output as _switchboard_v1_ListFilesRequest__Output } from '../../switchboard/v1/ListFilesRequest';
import type { ListFilesResponse as _switchboard_v1_ListFilesResponse, ListFilesResponse__Output as _switchboard_v1_ListFilesResponse__Output } from '../../switchboard/v1/ListFilesResponse';
import type { UploadRequest as _switchboard_v1_UploadRequest, UploadRequest__Output as _switchboard_v1_UploadRequest__Output } from '../../switchboard/v1/UploadRequest';

export interface FileServiceClient extends grpc.Client {
  DeleteFile(argument: _switchboard_v1_DeleteFileRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_google_protobuf_Empty__Output>): grpc.ClientUnaryCall;
  DeleteFile(argument: _switchboard_v1_DeleteFileRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_google_protobuf_Empty__Output>): grpc.ClientUnaryCall;
  DeleteFile(argument: _switchboard_v1_DeleteFileRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_google_protobuf_Empty__Output>): grpc.ClientUnaryCall;
  DeleteFile(argument: _switchboard_v1_DeleteFileRequest, callback: grpc.requestCallback<_google_protobuf_Empty__Output>): grpc.ClientUnaryCall;
  deleteFile(argument: _switchboard_v1_DeleteFileRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_google_protobuf_Empty__Output>): grpc.ClientUnaryCall;
  deleteFile(argument: _switchboard_v1_DeleteFileRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_google_protobuf_Empty__Output>): grpc.ClientUnaryCall;
  deleteFile(argument: _switchboard_v1_DeleteFileRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_google_protobuf_Empty__Output>): grpc.ClientUnaryCall;
  deleteFile(argument: _switchboard_v1_DeleteFileRequest, callback: grpc.requestCallback<_google_protobuf_Empty__Output>): grpc.ClientUnaryCall;
  
  Download(argument: _switchboard_v1_DownloadRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_switchboard_v1_DownloadResponse__Output>;
  Download(argument: _switchboard_v1_DownloadRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_switchboard_v1_DownloadResponse__Output>;
  download(argument: _switchboard_v1_DownloadRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_switchboard_v1_DownloadResponse__Output>;
  download(argument: _switchboard_v1_DownloadRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_switchboard_v1_DownloadResponse__Output>;
  
  ListFiles(argument: _switchboard_v1_ListFilesRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_switchboard_v1_ListFilesResponse__Output>): grpc.ClientUnaryCall;
  ListFiles(argument: _switchboard_v1_ListFilesRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_switchboard_v1_ListFilesResponse__Output>): grpc.ClientUnaryCall;
  ListFiles(argument: _switchboard_v1_ListFilesRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_switchboard_v1_ListFilesResponse__Output>): grpc.ClientUnaryCall;
  ListFiles(argument: _switchboard_v1_ListFilesRequest, callback: grpc.requestCallback<_switchboard_v1_ListFilesResponse__Output>): grpc.ClientUnaryCall;
  listFiles(argument: _switchboard_v1_ListFilesRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_switchboard_v1_ListFilesResponse__Output>): grpc.ClientUnaryCall;
  listFiles(argument: _switchboard_v1_ListFilesRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_switchboard_v1_ListFilesResponse__Output>): grpc.ClientUnaryCall;
  listFiles(argument: _switchboard_v1_ListFilesRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_switchboard_v1_ListFilesResponse__Output>): grpc.ClientUnaryCall;
  listFiles(argument: _switchboard_v1_ListFilesRequest, callback: grpc.requestCallback<_switchboard_v1_ListFilesResponse__Output>): grpc.ClientUnaryCall;
  
  Upload(metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_switchboard_v1_FileInfo__Output>): grpc.ClientWritableStream<_switchboard_v1_UploadRequest>;
  Upload(metadata: grpc.Metadata, callback: grpc.requestCallback<_switchboard_v1_FileInfo__Output>): grpc.ClientWritableStream<_switchboard_v1_UploadRequest>;
  Upload(options: grpc.CallOptions, callback: grpc.requestCallback<_switchboard_v1_FileInfo__Output>): grpc.ClientWritableStream<_switchboard_v1_UploadRequest>;
  Upload(callback: grpc.requestCallback<_switchboard_v1_FileInfo__Output>): grpc.ClientWritableStream<_switchboard_v1_UploadRequest>;
  upload(metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_switchboard_v1_FileInfo__Output>): grpc.ClientWritableStream<_switchboard_v1_UploadRequest>;
  upload(metadata: grpc.Metadata, callback: grpc.requestCallback<_switchboard_v1_FileInfo__Output>): grpc.ClientWritableStream<_switchboard_v1_UploadRequest>;
  upload(options: grpc.CallOptions, callback: grpc.requestCallback<_switchboard_v1_FileInfo__Output>): grpc.ClientWritableStream<_switchboard_v1_UploadRequest>;
  upload(callback: grpc.requestCallback<_switchboard_v1_FileInfo__Output>): grpc.ClientWritableStream<_switchboard_v1_UploadRequest>;
  
}

export interface FileServiceHandlers extends grpc.UntypedServiceImplementation {
  DeleteFile: grpc.handleUnaryCall<_switchboard_v1_DeleteFileRequest__Output, _google_protobuf_Empty>;
  
  Download: grpc.handleServerStreamingCall<_switchboard_v1_DownloadRequest__Output, _switchboard_v1_DownloadResponse>;
  
  ListFiles: grpc.handleUnaryCall<_switchboard_v1_ListFilesRequest__Output, _switchboard_v1_ListFilesResponse>;
  
  Upload: grpc.handleClientStreamingCall<_switchboard_v1_UploadRequest__Output, _switchboard_v1_FileInfo>;
  
}

export interface FileServiceDefinition extends grpc.ServiceDefinition {
  DeleteFile: MethodDefinition<_switchboard_v1_DeleteFileRequest, _google_protobuf_Empty, _switchboard_v1_DeleteFileRequest__Output, _google_protobuf_Empty__Output>
  Download: MethodDefinition<_switchboard_v1_DownloadRequest, _switchboard_v1_DownloadResponse, _switchboard_v1_DownloadRequest__Output, _switchboard_v1_DownloadResponse__Output>
  ListFiles: MethodDefinition<_switchboard_v1_ListFilesRequest, _switchboard_v1_ListFilesResponse, _switchboard_v1_ListFilesRequest__Output, _switchboard_v1_ListFilesResponse__Output>
  Upload: MethodDefinition<_switchboard_v1_UploadRequest, _switchboard_v1_FileInfo, _switchboard_v1_UploadRequest__Output, _switchboard_v1_FileInfo__Output>
}

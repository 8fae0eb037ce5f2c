import type * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition } from '@grpc/proto-loader';

import type { Empty as _google_protobuf_Empty, Empty__Output as _google_protobuf_Empty__Output } from './google/protobuf/Empty';
import type { Timestamp as _google_protobuf_Timestamp, Timestamp__Output as _google_protobuf_Timestamp__Output } from './google/protobuf/Timestamp';
import type { DeleteFileRequest as _switchboard_v1_DeleteFileRequest, DeleteFileRequest__Output as _switchboard_v1_DeleteFileRequest__Output } from './switchboard/v1/DeleteFileRequest';
import type { DownloadRequest as _switchboard_v1_DownloadRequest, DownloadRequest__Output as _switchboard_v1_DownloadRequest__Output } from './switchboard/v1/DownloadRequest';
import type { DownloadResponse as _switchboard_v1_DownloadResponse, DownloadResponse__Output as _switchboard_v1_DownloadResponse__Output } from './switchboard/v1/DownloadResponse';
import type { FileInfo as _switchboard_v1_FileInfo, FileInfo__Output as _switchboard_v1_FileInfo__Output } from './switchboard/v1/FileInfo';
import type { FileServiceClient as _switchboard_v1_FileServiceClient, FileServiceDefinition as _switchboard_v1_FileServiceDefinition } from './switchboard/v1/FileService';
import type { ListFilesRequest as _switchboard_v1_ListFilesRequest, ListFilesRequest__Output as _switchboard_v1_ListFilesRequest__Output } from './switchboard/v1/ListFilesRequest';
import type { ListFilesResponse as _switchboard_v1_ListFilesResponse, ListFilesResponse__Output as _switchboard_v1_ListFilesResponse__Output } from './switchboard/v1/ListFilesResponse';
import type { UploadRequest as _switchboard_v1_UploadRequest, UploadRequest__Output as _switchboard_v1_UploadRequest__Output } from './switchboard/v1/UploadRequest';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  google: {
    protobuf: {
      Empty: MessageTypeDefinition<_google_protobuf_Empty, _google_protobuf_Empty__Output>
      Timestamp: MessageTypeDefinition<_google_protobuf_Timestamp, _google_protobuf_Timestamp__Output>
    }
  }
  switchboard: {
    v1: {
      DeleteFileRequest: MessageTypeDefinition<_switchboard_v1_DeleteFileRequest, _switchboard_v1_DeleteFileRequest__Output>
      DownloadRequest: MessageTypeDefinition<_switchboard_v1_DownloadRequest, _switchboard_v1_DownloadRequest__Output>
      DownloadResponse: MessageTypeDefinition<_switchboard_v1_DownloadResponse, _switchboard_v1_DownloadResponse__Output>
      FileInfo: MessageTypeDefinition<_switchboard_v1_FileInfo, _switchboard_v1_FileInfo__Output>
      FileService: SubtypeConstructor<typeof grpc.Client, _switchboard_v1_FileServiceClient> & { service: _switchboard_v1_FileServiceDefinition }
      ListFilesRequest: MessageTypeDefinition<_switchboard_v1_ListFilesRequest, _switchboard_v1_ListFilesRequest__Output>
      ListFilesResponse: MessageTypeDefinition<_switchboard_v1_ListFilesResponse, _switchboard_v1_ListFilesResponse__Output>
      UploadRequest: MessageTypeDefinition<_switchboard_v1_UploadRequest, _switchboard_v1_UploadRequest__Output>
    }
  }
}


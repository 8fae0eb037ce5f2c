// Original file: switchboard/v1/chat.proto


export interface WatchRoomRequest {
}

export interface WatchRoomRequest__Output {
}
